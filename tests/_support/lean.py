"""A self-contained Lean 4 `prelude` header: no toolchain library needed, so the tests run on a bare `lean`."""

PRELUDE_HEADER = """prelude
unsafe axiom lcErased : Type
inductive False : Prop
inductive True : Prop where
  | intro : True
structure And (a b : Prop) : Prop where
  intro ::
  left : a
  right : b
inductive Or (a b : Prop) : Prop where
  | inl (h : a) : Or a b
  | inr (h : b) : Or a b
inductive Eq {α : Sort u} : α → α → Prop where
  | refl (a : α) : Eq a a
"""
