"""Click-to-call: an operator talks to the elder through their own phone, bridged by Twilio."""
