"""Import stand-in for torch_scatter, on the path of Lim et al.'s code only (bench/references/lim_gmn.py):
what it uses, scatter(src, index, dim, dim_size, reduce), is torch-geometric's own."""

from torch_geometric.utils.scatter import scatter  # noqa: F401
