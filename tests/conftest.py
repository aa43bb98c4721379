import numpy as np
import pytest
import torch

from gramlib.data import ImageData, ProxySplit
from gramlib.metagraph import MetaGraph, UpdateRule
from gramlib.skeleton import layout
from gramlib.space import PAPER_OPS, SearchSpace

torch.set_num_threads(2)


@pytest.fixture
def small_space() -> SearchSpace:
    return SearchSpace(hierarchies=2, dags_per_hierarchy=2, nodes=6, ops=("conv1x1-8", "conv3x3-16"),
                       skeleton=layout("pool-between", 2, stem_channels=8))


@pytest.fixture
def paper_space() -> SearchSpace:
    return SearchSpace(hierarchies=3, dags_per_hierarchy=3, nodes=12, ops=PAPER_OPS, filter_cap=32)


def trained_metagraph(space: SearchSpace, steps: int = 60, seed: int = 0) -> MetaGraph:
    """A meta-graph after ``steps`` updates with made-up, architecture-dependent scores (no training)."""
    # a rule that learns within tens of steps, so absolute-keep-probability pruning finds structure
    mg = MetaGraph(space, UpdateRule(cost="none", advantage="standardized", alpha=1.0), seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        a = mg.sample()
        # reward edges into odd nodes: gives the weights a structure to learn
        score = np.mean([j % 2 for d in a.dags for _, j in d.edges] or [0.0])
        mg.update(a, float(score + 0.1 * rng.standard_normal()))
    return mg


def synthetic_proxy(n_train: int = 48, n_val: int = 24, size: int = 16, channels: int = 3, seed: int = 0) -> ProxySplit:
    """Learnable toy data: the class is encoded in the mean brightness of one channel."""
    g = torch.Generator().manual_seed(seed)

    def make(n: int) -> ImageData:
        y = torch.randint(0, 4, (n,), generator=g)
        x = torch.randint(0, 60, (n, channels, size, size), generator=g) + (y * 50).view(-1, 1, 1, 1)
        return ImageData(x.clamp(0, 255).to(torch.uint8), y, ("a", "b", "c", "d"), "toy", "train")

    return ProxySplit(make(n_train), make(n_val))
