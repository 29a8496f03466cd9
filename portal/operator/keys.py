"""The operator console's own Redis keys (plan images, model-rebuild state, survey results)."""

from __future__ import annotations

from core.storage import VenueKeys


class OpsKeys(VenueKeys):
    def plan(self, image_id: str) -> str:
        return self.key("ops", "plan", image_id)

    def model_state(self) -> str:
        return self.key("ops", "model")

    def survey_result(self, client: str) -> str:
        return self.key("ops", "survey", "result", client)
