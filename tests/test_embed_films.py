import numpy as np
import pytest
from django.core.management import call_command

from recommendations import store
from recommendations.ids import ids_from_store
from recommendations.models import ActiveModel, ModelVersion
from tests.factories import MovieFactory

pytestmark = pytest.mark.slow


def test_embed_films_creates_and_refreshes_the_active_version(db):
    films = [MovieFactory(title=t, overview=o) for t, o in [("Alpha", "Space pirates."), ("Beta", "A quiet romance."), ("Gamma", "A heist.")]]
    call_command("embed_films")
    version = ActiveModel.objects.singleton().get().version
    assert version.status == ModelVersion.Status.ACTIVE
    data = store.load_npz(version.embeddings_path)
    assert data["matrix"].shape == (3, 384) and data["matrix"].dtype == np.float32
    assert np.allclose(np.linalg.norm(data["matrix"], axis=1), 1.0, atol=1e-5)
    assert data["movie_ids"].dtype.kind == "U"  # ids are stored as strings (ObjectIds do not fit in int64)
    assert sorted(ids_from_store(data["movie_ids"]).tolist()) == sorted(f.pk for f in films)

    films[1].overview = "A loud war film."
    films[1].save()
    MovieFactory(title="Delta", overview="Dinosaurs.")
    from recommendations.services import embed_catalogue

    counts = embed_catalogue(version, only_changed=True)
    assert counts == {"films": 4, "embedded": 2}
    after = store.load_npz(version.embeddings_path)
    row = {m: i for i, m in enumerate(ids_from_store(after["movie_ids"]).tolist())}
    old_row = {m: i for i, m in enumerate(ids_from_store(data["movie_ids"]).tolist())}
    assert np.allclose(after["matrix"][row[films[0].pk]], data["matrix"][old_row[films[0].pk]])
    assert not np.allclose(after["matrix"][row[films[1].pk]], data["matrix"][old_row[films[1].pk]])


def test_unknown_model_version_is_a_clear_error(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No model version 99999"):
        call_command("embed_films", "--model-version", "99999")
