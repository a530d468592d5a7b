"""A behaviour that lives outside the kit's tree: the user shouts (and says so in the transcript).

It exists to prove the behaviour seam: BEHAVIORS=tangential+tests.support.toy_behaviour:Shouting
runs it after the paper's stages with no edit to shared code.
"""

from __future__ import annotations

from shared.usersim.plugin_stages import StageContext


class Shouting:
    name = "shouting"

    async def __call__(self, ctx: StageContext) -> None:
        ctx.turn.content = ctx.turn.content.upper() + "!!"
        ctx.turn.note("shouted", items_left=len(ctx.remaining))
