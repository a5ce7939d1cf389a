"""The core layer: genotype values, graph tools, registries, the compiler and the search-space interface.

It imports nothing else of ``nas`` and names no op or architecture: plugins fill its registries.
"""
