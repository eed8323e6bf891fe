import numpy as np
import pytest

from embeddings.idmap import DENSE_IDS, IdMap


@pytest.mark.parametrize("large", [False, True], ids=["dense ids", "ids beyond the dense range"])
def test_a_lookup_reads_rows_and_raises_or_fills_for_absent_ids(large):
    ids = np.array([3, 7, 11]) + (DENSE_IDS if large else 0)
    id_map = IdMap()
    id_map.set_many(ids, np.array([0, 1, 2]))
    assert id_map.lookup([int(ids[2]), int(ids[0])]).tolist() == [2, 0]
    absent = int(ids[0]) + 1
    with pytest.raises(KeyError):
        id_map.lookup([int(ids[0]), absent])
    assert id_map.lookup([absent, int(ids[1])], missing=-1).tolist() == [-1, 1]
    assert id_map.lookup(np.array([int(ids[1]), absent]), missing=-5).tolist() == [1, -5]
    id_map.pop(int(ids[1]))
    assert id_map.lookup([int(ids[1])], missing=-1).tolist() == [-1]
