q = Question
fin = Merci
