"""`ikr package` and `ikr deploy`: the Lambda artifact, the central stack and the member-role StackSet.

Pure logic (templates, zip layout, change and event lines) is kept apart from the modules that
call AWS (`stack`, `stackset`), which take their boto3 clients as arguments.
"""
