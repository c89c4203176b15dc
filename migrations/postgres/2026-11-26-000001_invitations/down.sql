DROP TABLE opt_outs;
DROP TABLE invitations;
