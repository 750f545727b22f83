"""Command-line interface: parses arguments and calls the library; the library never reads argv."""
