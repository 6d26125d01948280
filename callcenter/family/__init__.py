"""Family SMS: who is told what at each step of an incident, sent once through Twilio (docs/sms.md)."""
