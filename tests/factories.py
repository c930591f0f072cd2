"""factory_boy factories for the catalogue and users."""

import factory
from django.utils import timezone

from accounts.models import User
from catalog.models import Genre, Movie, Rating


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("a-long-test-password-1")
    onboarded = True


class GenreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Genre
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Genre {n}")


class MovieFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Movie

    title = factory.Sequence(lambda n: f"Film {n}")
    year = 1999
    overview = "A film made for tests."

    @factory.post_generation
    def genres(self, create, extracted, **kwargs):
        if create and extracted:
            self.genres.set(extracted)


class RatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rating

    user = factory.SubFactory(UserFactory)
    movie = factory.SubFactory(MovieFactory)
    value = 4.0
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


def random_embedding_version(seed: int = 0, dim: int = 384):
    """A READY model version over every film in the DB with random unit vectors (no TensorFlow)."""
    import numpy as np

    from recommendations import store
    from recommendations.models import ModelVersion

    ids = np.array(sorted(Movie.objects.values_list("pk", flat=True)), dtype=np.int64)
    matrix = np.random.default_rng(seed).normal(size=(len(ids), dim)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    version.embeddings_path = store.save_embeddings(version.pk, ids, matrix, np.array(["0" * 16] * len(ids)))
    version.save()
    return version


def model_permissions(*actions: str) -> list:
    """The admin's model-version permissions (``view``, ``change``), which the model API requires of staff."""
    from django.contrib.auth.models import Permission

    return [Permission.objects.get(codename=f"{action}_modelversion") for action in actions]
