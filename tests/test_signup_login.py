from django.urls import reverse

from accounts.models import User


def test_sign_up_logs_in_and_starts_onboarding(client, db):
    response = client.post(
        reverse("signup"),
        {"username": "ana", "email": "ana@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("onboarding")
    user = User.objects.get(username="ana")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_sign_up_rejects_weak_password(client, db):
    response = client.post(reverse("signup"), {"username": "bob", "password1": "123", "password2": "123"})
    assert response.status_code == 200
    assert not User.objects.filter(username="bob").exists()


def test_log_in_and_out(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": "a-long-test-password-1"})
    assert response.status_code == 302
    assert client.get(reverse("profile")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("profile")).status_code == 302


def test_wrong_password_is_refused(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_change(client, user):
    client.force_login(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": "a-long-test-password-1", "new_password1": "another-long-phrase-7", "new_password2": "another-long-phrase-7"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("another-long-phrase-7")


def test_password_reset_sends_mail(client, user, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": user.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/reset/" in mailoutbox[0].body


def test_sign_up_refuses_an_email_already_used(client, user):
    taken = user.email.upper()
    response = client.post(
        reverse("signup"),
        {"username": "cleo", "email": taken, "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"},
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not User.objects.filter(username="cleo").exists()


def test_sign_up_without_email_is_allowed_twice(client, db):
    for name in ("dan", "eve"):
        client.post(reverse("signup"), {"username": name, "email": "", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"})
        client.post(reverse("logout"))
    assert User.objects.filter(username__in=["dan", "eve"], email="").count() == 2
