"""The paper's reported numbers, for the "paper" column beside ours.

Every value here is quoted from the paper's text (``../shared/paper/gram-swiftnet.txt``);
none is a result of this project. MACs are in millions.
"""

from __future__ import annotations

SOURCE = "paper (GRAM/SwiftNet), as reported"

#: Table 1: SwiftNet-<level> on CIFAR-10.
TABLE1 = [
    {"model": "SwiftNet-0.65", "level": 0.65, "accuracy": 85.92, "mmacs": 3.0, "density": 28.64},
    {"model": "SwiftNet-0.5", "level": 0.5, "accuracy": 88.74, "mmacs": 5.0, "density": 17.75},
    {"model": "SwiftNet-0.4", "level": 0.4, "accuracy": 89.09, "mmacs": 12.0, "density": 7.42},
    {"model": "SwiftNet-0.3", "level": 0.3, "accuracy": 90.17, "mmacs": 36.0, "density": 2.50},
]

#: Table 2: compact models on ImageNet-1K (latency on a Google Pixel 1).
TABLE2 = [
    {"model": "MobileNet-V2-0.35", "search_gpu_hours": None, "latency_ms": 4.5, "mmacs": 11.0, "top1": 45.5},
    {"model": "FBNet-96-0.35-2", "search_gpu_hours": 216.0, "latency_ms": 4.26, "mmacs": 13.7, "top1": 51.9},
    {"model": "SwiftNet-0.4", "search_gpu_hours": 8.3, "latency_ms": 4.24, "mmacs": 10.4, "top1": 54.4},
]

#: Table 3: SwiftNet-<input>-<level>-<up-scaling> on ImageNet-1K.
TABLE3 = [
    {"input": 96, "level": 0.5, "scale": 1.00, "top1": 48.24, "top5": 73.56, "mmacs": 10, "mparams": 0.87},
    {"input": 96, "level": 0.4, "scale": 1.00, "top1": 54.44, "top5": 77.12, "mmacs": 14, "mparams": 1.15},
    {"input": 128, "level": 0.5, "scale": 1.00, "top1": 54.69, "top5": 77.27, "mmacs": 18, "mparams": 0.87},
    {"input": 128, "level": 0.4, "scale": 1.00, "top1": 59.13, "top5": 81.32, "mmacs": 26, "mparams": 1.15},
    {"input": 96, "level": 0.5, "scale": 1.25, "top1": 51.03, "top5": 74.33, "mmacs": 15, "mparams": 1.20},
    {"input": 96, "level": 0.4, "scale": 1.25, "top1": 56.21, "top5": 78.83, "mmacs": 21, "mparams": 1.58},
    {"input": 128, "level": 0.5, "scale": 1.25, "top1": 57.91, "top5": 80.51, "mmacs": 26, "mparams": 1.20},
    {"input": 128, "level": 0.4, "scale": 1.25, "top1": 61.99, "top5": 84.26, "mmacs": 38, "mparams": 1.58},
    {"input": 96, "level": 0.5, "scale": 1.50, "top1": 52.76, "top5": 76.01, "mmacs": 20, "mparams": 1.56},
    {"input": 96, "level": 0.4, "scale": 1.50, "top1": 57.46, "top5": 80.03, "mmacs": 30, "mparams": 2.07},
    {"input": 128, "level": 0.5, "scale": 1.50, "top1": 59.45, "top5": 81.62, "mmacs": 36, "mparams": 1.56},
    {"input": 128, "level": 0.4, "scale": 1.50, "top1": 63.28, "top5": 85.22, "mmacs": 53, "mparams": 2.07},
]

#: Table 4: the CIFAR-10 meta-graph generating models for other tasks.
TABLE4 = [
    {"task": "mnist", "mmacs": 0.23, "accuracy": 99.24, "density": 431.47},
    {"task": "svhn", "mmacs": 1.15, "accuracy": 94.95, "density": 82.56},
    {"task": "fashion-mnist", "mmacs": 0.86, "accuracy": 93.56, "density": 108.79},
]

#: Claims made in the text (abstract, §4.2–4.3).
CLAIMS = {
    "search_gpu_hours": 8.3,                 # 1000 iterations on one GTX 1080
    "meta_graph_iterations": 1000,
    "density_swiftnet": 8.90,                # ImageNet accuracy density (Figure 4)
    "density_mobilenetv2": 4.14,
    "density_fbnet": 3.79,
    "speedup_vs_mobilenetv2_96": 2.42,       # latency at equal accuracy, Pixel 1
    "speedup_vs_mobilenetv2_128": 2.11,
    "multithread_speedup": 2.0,              # "about 2x" from running the DAGs in parallel
    "swiftnet_0_65_params": 250_000,         # "85.92 % with only 250k parameters"
}
