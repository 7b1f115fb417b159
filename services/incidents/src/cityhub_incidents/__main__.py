"""`python -m cityhub_incidents [serve|migrate|seed]`."""

from cityhub_sdk.app import main

from cityhub_incidents.app import DEFINITION

if __name__ == "__main__":
    main(DEFINITION)
