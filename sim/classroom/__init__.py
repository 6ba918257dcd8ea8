"""The classroom market game: every team runs a streaming service in one shared market.

:mod:`sim.classroom.game` holds the game's state (pure Python over the model);
:mod:`sim.classroom.page` the teacher's and the students' Solara pages.
"""
