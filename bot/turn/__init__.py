"""One customer message through the bot: the pipeline (language, NLU, policy, the
chosen action or knowledge answer, the reply record) and the policy's helpers
(escalation to a person).
"""
