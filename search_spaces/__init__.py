"""Search spaces and the architecture zoo (registered into ``nas.ARCHS``)."""

from search_spaces import zoo  # noqa: F401  (registration side effects)
