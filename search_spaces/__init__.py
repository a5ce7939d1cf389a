"""Search spaces and the architecture zoo (registered into ``nas.ARCHS`` and ``nas.SPACES``)."""

from search_spaces import (  # noqa: F401  (registration side effects)
    darts_spaces,
    enas,
    macro,
    nb201,
    zoo,
)
