"""The platform mirror: the platform's own client states the facts (accounts, stories,
follow edges, engagement) in bulk, ordered by the platform's sequence, each change of a
fact that matters audited. Signals never change these facts (cases.services.intake)."""
