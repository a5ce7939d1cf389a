"""Weight sharing: supernets compiled from the search spaces, and the one-shot methods that train them
(SPOS, DARTS, GDAS) and return ordinary genotypes."""
