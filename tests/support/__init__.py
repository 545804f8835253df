"""The test tooling shared by every test layer: simulators' clients, fixtures' helpers."""
