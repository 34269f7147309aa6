import networkx as nx
import numpy as np
import pytest
import torch

import graphrec as gr
from graphrec.graph import (
    bipartite_adjacency,
    ego_subgraph,
    normalized_adjacency,
    normalized_interactions,
    to_edge_index,
    to_hetero_data,
    to_networkx,
    to_torch_csr,
)


def test_normalized_adjacency_by_hand(tiny):
    # degrees: u0=2, u1=1, i0=1, i1=2 ; nodes u0,u1,i0,i1
    a = normalized_adjacency(tiny).toarray()
    s = 1 / np.sqrt(2)
    expected = np.array(
        [[0, 0, s, 0.5], [0, 0, 0, s], [s, 0, 0, 0], [0.5, s, 0, 0]], dtype=np.float32
    )
    np.testing.assert_allclose(a, expected, rtol=1e-6)
    assert np.allclose(a, a.T)


def test_one_propagation_layer_by_hand(tiny):
    a = to_torch_csr(normalized_adjacency(tiny))
    e = torch.tensor([[1.0], [2.0], [3.0], [4.0]])  # u0, u1, i0, i1
    out = torch.sparse.mm(a, e).squeeze().numpy()
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(out, [3 * s + 4 * 0.5, 4 * s, 1 * s, 1 * 0.5 + 2 * s], rtol=1e-6)


def test_isolated_nodes_have_zero_rows():
    x = gr.Interactions.from_arrays([0], [0], n_users=2, n_items=3)
    a = normalized_adjacency(x).toarray()
    assert a[1].sum() == 0 and a[3:].sum() == 0 and np.isfinite(a).all()


def test_normalized_interactions_matches_definition(tiny):
    r = tiny.to_csr().toarray()
    du, di = r.sum(1), r.sum(0)
    expected = r / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    np.testing.assert_allclose(normalized_interactions(tiny).toarray(), expected, rtol=1e-6)


def test_bipartite_adjacency_weights():
    x = gr.Interactions.from_arrays([0, 1], [0, 0], weights=[2.0, 5.0], n_users=2, n_items=1)
    assert bipartite_adjacency(x).toarray()[1, 2] == 1.0
    assert bipartite_adjacency(x, binary=False).toarray()[1, 2] == 5.0


def test_edge_index_and_hetero(tiny):
    ei = to_edge_index(tiny)
    assert ei.shape == (2, 6)
    assert set(map(tuple, ei.T.tolist())) >= {(0, 2), (2, 0), (0, 3), (1, 3)}
    data = to_hetero_data(tiny)
    assert data["user"].num_nodes == 2 and data["item"].num_nodes == 2
    assert data["user", "interacts", "item"].edge_index.shape == (2, 3)


def test_networkx_attributes(tiny):
    import pandas as pd

    info = pd.DataFrame({"title": ["A", "B"]}, index=[0, 1])
    g = to_networkx(tiny, item_info=info)
    assert nx.is_bipartite(g)
    assert g.number_of_edges() == 3
    assert g.nodes[2]["kind"] == "item" and g.nodes[2]["title"] == "A"
    assert g.nodes[0]["kind"] == "user"


def test_ego_subgraph_exact_hops(checkerboard):
    train, _ = checkerboard
    g = to_networkx(train)
    for hops in (0, 1, 2, 3):
        nodes = ego_subgraph(train, user=0, hops=hops)
        expected = set(nx.single_source_shortest_path_length(g, 0, cutoff=hops))
        assert set(nodes.tolist()) == expected
        assert nodes[0] == 0


def test_ego_subgraph_cap_keeps_closest(checkerboard):
    train, _ = checkerboard
    nodes = ego_subgraph(train, item=0, hops=2, max_nodes=3)
    assert len(nodes) == 3 and nodes[0] == train.n_users + 0
    # the two kept neighbours are users at hop 1
    assert all(n < train.n_users for n in nodes[1:])


def test_ego_subgraph_errors(tiny):
    with pytest.raises(ValueError, match="exactly one"):
        ego_subgraph(tiny)
    with pytest.raises(IndexError):
        ego_subgraph(tiny, user=5)
    with pytest.raises(ValueError, match="max_nodes"):
        ego_subgraph(tiny, user=0, max_nodes=0)
