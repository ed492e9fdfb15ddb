"""IssuedToken and SigningKey now belong to the tokens app (oauthapps/tokens/models.py): removed
from this app's state only. Their tables, rows and names stay as they are (tokens/0002 takes
them over)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("oauthapps", "0004_app_names_unique_ignoring_case"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="issuedtoken", name="issuedtoken_app_issued"
                ),
                migrations.DeleteModel(name="SigningKey"),
                migrations.DeleteModel(name="IssuedToken"),
            ]
        )
    ]
