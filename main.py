"""The entry point airbyte-ci's Python connector build runs (`python main.py spec`, ...):
the same as the `source-contractfit` console script."""

from source_contractfit.airbyte.run import main

if __name__ == "__main__":
    main()
