"""Passwords are stored with Argon2id at OWASP's baseline parameters (decision 192), and a hash written by an
earlier hasher still logs in and is upgraded at that login. The suite otherwise hashes with MD5 for speed
(tests/conftest.py); these tests put the product's own list back."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import identify_hasher, make_password

from wuye import settings as product_settings


@pytest.fixture
def product_hashers(settings):
    settings.PASSWORD_HASHERS = list(product_settings.PASSWORD_HASHERS)


def test_a_new_password_is_argon2id_with_the_baseline_parameters(product_hashers):
    encoded = make_password("load-2026-bench")
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    hasher = identify_hasher(encoded)
    assert hasher.verify("load-2026-bench", encoded) and not hasher.verify("load-2026-bencH", encoded)
    assert not hasher.must_update(encoded)


def test_an_old_pbkdf2_hash_logs_in_and_is_upgraded(product_hashers, client, db):
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from wuye.accounts.models import User

    old = PBKDF2PasswordHasher().encode("old-password-1", PBKDF2PasswordHasher().salt(), iterations=1000)
    user = User.objects.create(username="legacy", password=old)
    response = client.post("/login/", {"username": "legacy", "password": "old-password-1"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    from django.test import Client

    refused = Client().post("/login/", {"username": "legacy", "password": "wrong-password"})
    assert refused.status_code == 200 and "_auth_user_id" not in refused.wsgi_request.session


def test_a_stronger_argon2_hash_is_brought_to_the_baseline_at_login(product_hashers, client, db):
    from django.contrib.auth.hashers import Argon2PasswordHasher

    from wuye.accounts.models import User

    heavy = Argon2PasswordHasher().encode("heavy-password-1", Argon2PasswordHasher().salt())  # Django's default
    assert "m=102400" in heavy
    user = User.objects.create(username="heavy", password=heavy)
    assert client.post("/login/", {"username": "heavy", "password": "heavy-password-1"}).status_code == 302
    user.refresh_from_db()
    assert "m=19456,t=2,p=1" in user.password
