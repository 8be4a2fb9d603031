# A file with nothing but comments is a valid, empty program.
// Both line comment styles are accepted,
/* and block comments
   spanning several lines. */
