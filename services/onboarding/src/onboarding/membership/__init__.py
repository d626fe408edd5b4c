"""The Membership aggregate every way in and out changes: its pure rules, the steps that
save them, its queries."""
