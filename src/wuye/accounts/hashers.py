"""The password hash: Argon2id at OWASP's baseline (decision 192).

Django's default, PBKDF2-SHA256 at 1,000,000 iterations, spends about 300 ms of CPU on every login, and a
login under load waited behind it (550 ms at p95 inside a worker in the 1M-unit load test). Argon2id with
19 MiB of memory, two passes and one lane is the first configuration OWASP's password storage cheat sheet
lists; it is memory-hard (what makes guessing on GPUs expensive), and costs about 30 ms. The parameters are
written into each hash: a stored PBKDF2 or Argon2 hash with other parameters still verifies, and Django
re-hashes it with these at the user's next successful login.
"""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
