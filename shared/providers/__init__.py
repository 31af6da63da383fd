"""Message providers behind one small interface each: SMS (console, AWS SNS, Aliyun) and email
(console, AWS SES). Chosen by configuration (``SMS_PROVIDER``, ``EMAIL_PROVIDER``)."""
