"""The heterogeneous graph: typed blocks, normalisation worked out by hand, time decay, exports."""

from __future__ import annotations

import numpy as np
import pytest

import graphrec as gr
from graphrec.graph import normalized_adjacency
from graphrec.hetero import build_hetero_graph, time_decay, to_hetero_data, to_networkx


@pytest.fixture
def typed():
    """u0-i0, u1-i1; items 0 and 1 share attribute a0 (weight 1); friends u0-u1.

    Nodes: u0=0, u1=1, i0=2, i1=3, a0=4. With relation weights user-item 1,
    item-attribute 2, user-user 1 the weighted edges are (0,2)=1, (1,3)=1,
    (2,4)=2, (3,4)=2, (0,1)=1; degrees u0 = u1 = 2, i0 = i1 = 3, a0 = 4.
    """
    x = gr.Interactions.from_arrays([0, 1], [0, 1], n_users=2, n_items=2)
    f = gr.Features.from_interactions(x).add_matrix("item", [[1.0], [1.0]], ["a0"])
    f = f.add_relations("user", [[0, 1]])
    return x, f


def test_normalized_adjacency_by_hand(typed):
    x, f = typed
    g = build_hetero_graph(x, f, relation_weights={"item-attribute": 2.0})
    assert g.n_nodes == 5 and sorted(g.blocks) == ["item-attribute", "user-item", "user-user"]
    s6, s12 = 1 / np.sqrt(2 * 3), 2 / np.sqrt(3 * 4)
    expected = np.array(
        [
            [0, 0.5, s6, 0, 0],
            [0.5, 0, 0, s6, 0],
            [s6, 0, 0, 0, s12],
            [0, s6, 0, 0, s12],
            [0, 0, s12, s12, 0],
        ]
    )
    assert np.allclose(g.normalized().toarray(), expected, atol=1e-6)
    assert np.allclose(g.degree(), [2, 2, 3, 3, 4])
    blocks = g.normalized_blocks()
    assert np.allclose(sum(b.toarray() for b in blocks.values()), expected, atol=1e-6)
    assert np.allclose(blocks["user-user"].toarray()[0, 1], 0.5)
    assert g.node_type().tolist() == [0, 0, 1, 1, 2]


def test_zero_relation_weight_drops_the_type_and_plain_graph_is_lightgcn(typed):
    x, f = typed
    g = build_hetero_graph(x, f, relation_weights={"item-attribute": 0, "user-user": 0})
    a = g.normalized().toarray()
    assert np.allclose(a[:4, :4], normalized_adjacency(x).toarray()) and not a[4].any()
    xs = gr.datasets.synthetic(n_users=30, n_items=20, random_state=0).train
    assert abs(build_hetero_graph(xs).normalized() - normalized_adjacency(xs)).max() < 1e-6
    with pytest.raises(ValueError, match="unknown edge type 'likes'"):
        build_hetero_graph(x, f, relation_weights={"likes": 1.0})
    with pytest.raises(ValueError, match="relation_weights"):
        build_hetero_graph(x, f, relation_weights={"user-user": -1.0})


def test_time_decay_half_life_weights_edges():
    x = gr.Interactions.from_arrays([0, 0, 1], [0, 1, 1], n_users=2, n_items=2, timestamps=[0, 20, 10])
    assert np.allclose(time_decay(x, 10.0), [0.25, 1.0, 0.5])
    assert np.allclose(time_decay(x, 10.0, reference="user"), [0.25, 1.0, 1.0])
    g = build_hetero_graph(x, half_life=10.0)
    a = g.adjacency().toarray()
    assert a[0, 2] == pytest.approx(0.25) and a[1, 3] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="timestamps"):
        time_decay(gr.Interactions.from_arrays([0], [0]), 1.0)
    with pytest.raises(ValueError, match="half_life"):
        time_decay(x, 0.0)


def test_export_to_networkx_and_pyg(typed):
    x, f = typed
    g = build_hetero_graph(x, f, relation_weights={"item-attribute": 2.0})
    nxg = to_networkx(g)
    assert nxg.number_of_nodes() == 5 and nxg.number_of_edges() == 5
    assert nxg.nodes[4] == {"kind": "item_attribute", "index": 0, "label": "a0"}
    assert nxg.edges[2, 4] == {"type": "item-attribute", "weight": 2.0}
    assert nxg.edges[0, 1]["type"] == "user-user"
    pytest.importorskip("torch_geometric")
    data = to_hetero_data(g)
    assert data["user"].num_nodes == 2 and data["item_attribute"].num_nodes == 1
    ei = data["item", "item-attribute", "item_attribute"].edge_index
    assert ei.tolist() == [[0, 1], [0, 0]]
    assert data["item", "item-attribute", "item_attribute"].edge_weight.tolist() == [2.0, 2.0]
    assert data["user", "user-user", "user"].edge_index.tolist() == [[0], [1]]
    assert data["item", "rev_user-item", "user"].edge_index.shape == (2, 2)
