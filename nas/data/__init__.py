"""Data: :func:`nas.data.datasets.load_dataset` (the entry point) over one reader per format — ImageFolder
directories and archives (:mod:`~nas.data.folder`), CIFAR's python format (:mod:`~nas.data.cifar`),
synthetic images (:mod:`~nas.data.synthetic`) — class-balanced splits (:mod:`~nas.data.splits`), the two
input pipelines (:mod:`~nas.data.loaders`, :mod:`~nas.data.augment`), the decoded-array cache
(:mod:`~nas.data.cache`) and the proxies' image batch (:mod:`~nas.data.batch`)."""
