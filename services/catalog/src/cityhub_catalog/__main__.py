"""`python -m cityhub_catalog [serve|migrate|seed]`."""

from cityhub_sdk.app import main

from cityhub_catalog.app import DEFINITION

if __name__ == "__main__":
    main(DEFINITION)
