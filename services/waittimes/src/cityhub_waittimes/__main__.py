"""`python -m cityhub_waittimes [serve|migrate]`."""

from cityhub_sdk.app import main

from cityhub_waittimes.app import DEFINITION

if __name__ == "__main__":
    main(DEFINITION)
