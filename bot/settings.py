"""Re-export shim: the settings live in `storage.settings` (a leaf every package may import)."""

from storage.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
