q = Question
# a comment
fin = Merci { $q
