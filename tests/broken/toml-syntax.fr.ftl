q = Question
