"""The tokens app takes over IssuedToken and SigningKey (state only: the tables keep their names
and rows), with their content types, so permissions and admin history follow them."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MOVED = ("issuedtoken", "signingkey")


def move_content_types(apps, schema_editor, source="oauthapps", target="tokens") -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label=target, model=model).exists():
            ContentType.objects.filter(app_label=source, model=model).update(
                app_label=target
            )


def move_content_types_back(apps, schema_editor) -> None:
    move_content_types(apps, schema_editor, source="tokens", target="oauthapps")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("oauthapps", "0005_token_models_move_to_tokens"),
        ("orgs", "0004_organization_require_mfa"),
        ("tokens", "0001_initial"),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='SigningKey',
                    fields=[
                        ('kid', models.CharField(max_length=64, primary_key=True, serialize=False)),
                        ('private_key_pem', models.TextField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('retired_at', models.DateTimeField(blank=True, help_text='When a newer key took over signing.', null=True)),
                    ],
                    options={
                        'db_table': 'oauthapps_signingkey',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='IssuedToken',
                    fields=[
                        ('jti', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False, verbose_name='JWT ID')),
                        ('scope', models.TextField()),
                        ('issued_at', models.DateTimeField()),
                        ('expires_at', models.DateTimeField(db_index=True)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('secret_generation', models.PositiveIntegerField(default=1, editable=False, help_text='The generation of the client secret the token was obtained with.')),
                        ('app', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='issued_tokens', to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL)),
                        ('organization', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='orgs.organization')),
                    ],
                    options={
                        'verbose_name': 'access token',
                        'db_table': 'oauthapps_issuedtoken',
                        'ordering': ['-issued_at'],
                        'indexes': [models.Index(fields=['app', 'issued_at'], name='issuedtoken_app_issued')],
                    },
                ),
            ]
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
