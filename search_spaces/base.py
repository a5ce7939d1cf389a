"""The search-space interface, re-exported from the core (:mod:`nas.core.space`) for plugins that
import it from here."""

from nas.core.space import Choice, Choices, SearchSpace, anonymous

__all__ = ["Choice", "Choices", "SearchSpace", "anonymous"]
