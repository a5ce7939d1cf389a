"""Tools over compiled genotypes: per-layer description (params, MACs, memory) and drawings."""
