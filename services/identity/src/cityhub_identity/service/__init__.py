"""Identity's use cases, by audience: `sessions` (sign-up, sign-in, tokens), `residents` (a
signed-in person's own data) and `admin` (what other services and operators ask). Each owns its
transactions and raises `cityhub_sdk.errors` (sign-in failures: `cityhub_identity.errors`)."""
