"""`python -m cityhub_identity [serve|migrate|rotate-keys]`."""

from cityhub_sdk.app import main

from cityhub_identity.app import DEFINITION

if __name__ == "__main__":
    main(DEFINITION)
