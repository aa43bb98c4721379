"""Drawing a discovered architecture, in the style of Figure 3 of the GRAM/SwiftNet paper.

One panel per DAG (rows = hierarchies, columns = DAGs of a hierarchy), each a
layered top-to-bottom drawing of the DAG's live nodes, under a one-line
description of the macro skeleton (stem, down-sampling); matplotlib only.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.text import Text

from .architecture import Architecture, Dag
from .space import parse_op

_KERNEL_COLOURS = {1: "#a6cee3", 3: "#fdbf6f"}
_OTHER_COLOURS = ("#b2df8a", "#fb9a99", "#cab2d6", "#ffff99")
_FONT = 7.5


def _kernel_colour(kernel: int) -> str:
    return _KERNEL_COLOURS.get(kernel, _OTHER_COLOURS[kernel % len(_OTHER_COLOURS)])


def _label(op: str) -> str:
    k, f = parse_op(op)
    return f"{k}×{k}·{f}"


def dag_layout(dag: Dag, dag_output: str = "leaves", *, include_dead: bool = False) -> dict[int, tuple[float, float]]:
    """Layered positions of a DAG's nodes: y = -(longest-path depth from node 0), nodes of a layer spread on x.

    Args:
        dag: the DAG.
        dag_output: "leaves" or "last", decides which nodes are live.
        include_dead: also place the dead nodes, in a grid right of the live ones.

    Returns:
        node index → (x, y); each layer of live nodes is centred on x = 0 with unit spacing.
    """
    live = dag.live_nodes(dag_output)
    depth: dict[int, int] = {}
    for j in live:  # edges go forward, so predecessors come first
        depth[j] = max((depth[i] + 1 for i in dag.predecessors(j) if i in depth), default=0)
    pos: dict[int, tuple[float, float]] = {}
    for d in range(max(depth.values()) + 1):
        layer = [v for v in live if depth[v] == d]

        def barycentre(v: int) -> float:  # order a layer by its predecessors' mean x: fewer crossings
            xs = [pos[i][0] for i in dag.predecessors(v) if i in pos]
            return sum(xs) / len(xs) if xs else 0.0

        layer.sort(key=lambda v: (barycentre(v), v))
        for r, v in enumerate(layer):
            pos[v] = (r - (len(layer) - 1) / 2, float(-d))
    if include_dead:  # a grid to the right, rows aligned with the layers
        rows, x0 = max(3, max(depth.values()) + 1), max(x for x, _ in pos.values()) + 1.2
        for k, v in enumerate(v for v in range(1, dag.n) if v not in depth):
            pos[v] = (x0 + k // rows, float(-1 - k % rows))
    return pos


def _edge(ax: Axes, src: Text, dst: Text, a: tuple[float, float], b: tuple[float, float], colour: str,
          style: str, side: int) -> None:
    """Arrow between two node labels: straight for adjacent layers, an outward arc for skip edges."""
    if a[1] - b[1] <= 1.0 + 1e-9:  # adjacent layers: bottom centre -> top centre
        xy_a, xy_b, rad = (0.5, 0.0), (0.5, 1.0), 0.0
    else:  # skip edge: bulge away from the panel's centre line, where the nodes in between sit
        out = 1 if a[0] + b[0] > 0 else -1 if a[0] + b[0] < 0 else side
        s = 0.5 + out / 2  # 0 = left edge, 1 = right edge
        xy_a, xy_b = (s, 0.5), ((s, 0.5) if b[0] == a[0] else (0.5, 1.0))
        rad = -(0.3 if b[0] == a[0] else 0.25) * out
    ax.annotate("", xy=xy_b, xycoords=dst, xytext=xy_a, textcoords=src, zorder=2, arrowprops=dict(
        arrowstyle="-|>", color=colour, lw=0.7, ls=style, shrinkA=2.5, shrinkB=3, mutation_scale=7,
        connectionstyle=f"arc3,rad={rad}"))


def _draw_dag(ax: Axes, dag: Dag, dag_output: str, show_dead: bool) -> tuple[int, int]:
    live = set(dag.live_nodes(dag_output))
    pos = dag_layout(dag, dag_output, include_dead=show_dead)
    pos[-1] = (0.0, min(pos[v][1] for v in live) - 1.0)  # the "out" marker
    width = {y: sum(1 for v, (_, y2) in pos.items() if y2 == y and v in live) for _, y in pos.values()}
    box = dict(boxstyle="round,pad=0.3", lw=0.8)
    label: dict[int, Text] = {}
    for v, (x, y) in pos.items():
        dead = v not in live and v != -1
        style = dict(fc="white" if v == 0 else "dimgrey" if v == -1 else _kernel_colour(parse_op(dag.ops[v])[0]),
                     ls="--" if dead else "-", ec="grey" if dead else "black")
        text = "in" if v == 0 else "out" if v == -1 else _label(dag.ops[v])
        stagger = 0.18 * (-1) ** round(x - 0.5 * (width[y] % 2 == 0)) if width[y] > 4 and v in live else 0.0
        label[v] = ax.text(x, y + stagger, text, ha="center", va="center", fontsize=_FONT, zorder=3,
                           alpha=0.45 if dead else 1.0, color="white" if v == -1 else "black",
                           fontweight="bold" if v == -1 else "normal", bbox=dict(box, **style))
    outputs = [(v, -1) for v in dag.output_nodes(dag_output)]
    for i, j in [(i, j) for i, j in dag.edges if i in pos and j in pos] + outputs:
        dead = i not in live or (j not in live and j != -1)
        _edge(ax, label[i], label[j], pos[i], pos[j], "lightgrey" if dead else "black" if j == -1 else "dimgrey",
              "--" if dead else "-", side=1 if (pos[i][1] - pos[j][1]) % 2 == 0 else -1)
    out_y = pos[-1][1]
    if dag.is_identity(dag_output):
        ax.text(0.25, out_y / 2, "identity", ha="left", va="center", fontsize=_FONT, style="italic", color="dimgrey")
    xs = [x for x, _ in pos.values()]
    ax.set_xlim(min(-1.5, min(xs) - 0.75), max(1.5, max(xs) + 0.75))
    ax.set_ylim(min(y for _, y in pos.values()) - 0.6, 0.6)
    ax.set_axis_off()
    return len(live) - 1, sum(1 for i, j in dag.edges if i in live and j in live)


def draw_architecture(arch: Architecture, *, title: str | None = None, ax_size: tuple[float, float] = (3.2, 4.0),
                      show_dead: bool = False) -> Figure:
    """Draw every DAG of ``arch``: one row per hierarchy, one column per DAG (paper Fig. 3 style).

    Args:
        arch: the architecture to draw.
        title: first line of the figure's heading (None = none); the heading always
            ends with the skeleton (:meth:`~gramlib.skeleton.Skeleton.describe`).
        ax_size: (width, height) in inches of one DAG panel.
        show_dead: also draw nodes and edges that carry no signal (faded, dashed).

    Returns:
        the matplotlib Figure (not shown; save it with ``fig.savefig``).
    """
    h, m = arch.hierarchies, arch.dags_per_hierarchy
    fig = Figure(figsize=(ax_size[0] * m, ax_size[1] * h + 0.6), layout="constrained")
    axes = fig.subplots(h, m, squeeze=False)
    for r in range(h):
        for c, dag in enumerate(arch.hierarchy(r)):
            n_ops, n_edges = _draw_dag(axes[r][c], dag, arch.dag_output, show_dead)
            axes[r][c].set_title(f"H{r + 1} · DAG {c + 1}\n({n_ops} ops, {n_edges} edges)", fontsize=9)
    shown = [d.ops[v] for d in arch.dags for v in (range(1, d.n) if show_dead else d.live_nodes(arch.dag_output)[1:])]
    kernels = sorted({parse_op(op)[0] for op in shown})
    handles = [Patch(fc=_kernel_colour(k), ec="black", label=f"{k}×{k} conv") for k in kernels]
    handles.append(Patch(fc="dimgrey", ec="black", label="out = concat of leaves"
                         if arch.dag_output == "leaves" else "out = last node"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    skeleton = arch.skeleton.describe()
    fig.suptitle(skeleton if title is None else f"{title}\n{skeleton}")
    return fig
