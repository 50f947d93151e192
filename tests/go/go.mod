module ctxtrace.test/programs

go 1.19
