"""The plugin's HTTP layer: one package per blueprint. Views parse, call one service, render."""
