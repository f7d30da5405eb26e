"""Knowledge answers: the grounded prompt and its checks, the answerer, chat-model
files and adapters, the generation backends and the chat-model server.
"""
