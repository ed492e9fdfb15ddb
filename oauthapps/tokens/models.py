from django.db import models


class TokenStateVersion(models.Model):
    """One row whose `version` changes, in the same transaction, with every change that can decide
    whether a client may get a token or whether an issued token is still good: apps, grants,
    organizations, their services, revocations (see migrations/0001_initial.py for the triggers).

    The token endpoint and the API keep what they read per process, tagged with the version they
    read it at, and read the version again in the one statement every request makes: an answer is
    reused only while nothing relevant has changed, on this instance or any other (state.py).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField()

    class Meta:
        db_table = "tokens_state_version"

    def __str__(self) -> str:
        return str(self.version)
