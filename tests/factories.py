import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User

from orgs.models import (
    Membership,
    Notification,
    Organization,
    OrganizationService,
    Service,
    ServiceRole,
)

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.LazyAttribute(lambda user: user.email)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()

    @factory.post_generation
    def verified_email(obj, create, extracted, **kwargs):  # noqa: N805
        """People in tests have confirmed their address (as every account made before allauth
        counts as confirmed); `verified_email=False` makes one who has not."""
        if create and obj.email:
            EmailAddress.objects.create(
                user=obj,
                email=obj.email.lower(),
                verified=extracted is not False,
                primary=True,
            )


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER
    is_developer = False


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda service: service.slug.replace("-", " ").title())


class ServiceRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceRole
        django_get_or_create = ("service", "slug")

    service = factory.SubFactory(ServiceFactory)
    slug = "viewer"
    name = factory.LazyAttribute(lambda role: role.slug.title())


class OrganizationServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrganizationService

    organization = factory.SubFactory(OrganizationFactory)
    service = factory.SubFactory(ServiceFactory)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Notification {n}")
