"""`python -m cityhub_notifications [serve|migrate|seed]`."""

from cityhub_sdk.app import main

from cityhub_notifications.app import DEFINITION

if __name__ == "__main__":
    main(DEFINITION)
