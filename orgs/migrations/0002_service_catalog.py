from django.db import migrations

CATALOG = [
    ("compute", "Compute", "Virtual machines and their lifecycle.", [
        ("viewer", "Viewer", "Read machines and their state."),
        ("operator", "Operator", "Start, stop and resize machines."),
        ("admin", "Administrator", "Create, change and delete machines."),
    ]),
    ("object-storage", "Object Storage", "Buckets and the objects in them.", [
        ("viewer", "Viewer", "List buckets and read objects."),
        ("editor", "Editor", "Write and delete objects."),
        ("admin", "Administrator", "Create buckets and change their policies."),
    ]),
    ("networking", "Networking", "Virtual networks, firewalls and load balancers.", [
        ("viewer", "Viewer", "Read network configuration."),
        ("operator", "Operator", "Change firewall rules and routes."),
        ("admin", "Administrator", "Create and delete networks."),
    ]),
    ("billing", "Billing", "Invoices, usage and payment settings.", [
        ("viewer", "Viewer", "Read invoices and usage."),
        ("admin", "Administrator", "Change payment settings."),
    ]),
    ("log-analytics", "Log Analytics", "Log search, dashboards and alerts.", [
        ("viewer", "Viewer", "Search logs and read dashboards."),
        ("analyst", "Analyst", "Save searches and build dashboards."),
        ("operator", "Operator", "Manage alerts and retention."),
        ("admin", "Administrator", "Manage log sources and access."),
    ]),
]


def load_catalog(apps, schema_editor):
    Service = apps.get_model("orgs", "Service")
    ServiceRole = apps.get_model("orgs", "ServiceRole")
    for slug, name, description, roles in CATALOG:
        service, _ = Service.objects.get_or_create(slug=slug, defaults={"name": name, "description": description})
        for position, (role_slug, role_name, role_description) in enumerate(roles):
            ServiceRole.objects.get_or_create(
                service=service,
                slug=role_slug,
                defaults={"name": role_name, "description": role_description, "position": position},
            )


def unload_catalog(apps, schema_editor):
    apps.get_model("orgs", "Service").objects.filter(slug__in=[entry[0] for entry in CATALOG]).delete()


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial")]

    operations = [migrations.RunPython(load_catalog, unload_catalog)]
