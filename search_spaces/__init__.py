"""Search spaces, the architecture zoo and transfer layouts (registered into ``nas.ARCHS``,
``nas.SPACES`` and ``nas.LAYOUTS``)."""

from search_spaces import (  # noqa: F401  (registration side effects)
    darts_spaces,
    enas,
    macro,
    nb201,
    scaling_space,
    transfer,
    zoo,
)
