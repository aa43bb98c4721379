"""gramlib: GRAM (GRAph propagation as Meta-knowledge) and SwiftNet, replicated.

Modules, joined by the plain :class:`Architecture` value:

* :mod:`gramlib.space`        search-space settings and node operations
* :mod:`gramlib.skeleton`     the macro skeleton: stem, down-sampling, wiring rules; named layouts
* :mod:`gramlib.architecture` the architecture value (JSON round-trip)
* :mod:`gramlib.metagraph`    meta-graph: sample, Algorithm 1 update, structure-level pruning
* :mod:`gramlib.model`        Architecture → PyTorch SwiftNet
* :mod:`gramlib.profiling`    MACs / parameters (fvcore), accuracy density, latency
* :mod:`gramlib.data`         datasets as tensors, proxy sets
* :mod:`gramlib.train`        recipes and a resumable trainer
* :mod:`gramlib.search`       the search loop (checkpointed, resumable)
* :mod:`gramlib.profiles`     paper / cpu / smoke settings
"""

from .architecture import Architecture, Dag
from .metagraph import MetaGraph, PruneError, UpdateRule
from .model import SwiftNet, build_model
from .profiling import accuracy_density, count_cost, measure_latency
from .skeleton import LAYOUTS, Skeleton, layout
from .space import PAPER_OPS, SearchSpace, SpaceError

__all__ = ["Architecture", "Dag", "MetaGraph", "PruneError", "UpdateRule", "SwiftNet", "build_model",
           "accuracy_density", "count_cost", "measure_latency", "LAYOUTS", "Skeleton", "layout", "PAPER_OPS",
           "SearchSpace", "SpaceError"]
__version__ = "0.1.0"
